// Modal dialogs on <dialog>: a choice among buttons, a confirm, a form.
// Each resolves with the chosen value (null when dismissed with Escape).
import { h } from "./dom.js";

// body: a Node or text; actions: [{ label, value, kind: "primary" | "danger" }]
export function choose({ title, body, actions, id, className = "" }) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: `modal ${className}`, id });
    const buttons = actions.map((action) =>
      h("button", {
        type: "button",
        class: action.kind ?? "",
        dataset: { value: String(action.value) },
        onClick: () => finish(action.value),
      }, action.label),
    );
    dialog.append(
      h("h2", { class: "modal-title" }, title),
      typeof body === "string" ? h("p", {}, body) : body,
      h("div", { class: "modal-actions" }, buttons),
    );
    function finish(value) {
      dialog.close();
      dialog.remove();
      resolve(value);
    }
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export async function confirmDialog(title, text, confirmLabel = "OK", kind = "primary") {
  const answer = await choose({
    title,
    body: text,
    id: "confirm-dialog",
    actions: [
      { label: "Cancel", value: false },
      { label: confirmLabel, value: true, kind },
    ],
  });
  return answer === true;
}

// A dialog around a form: `submit()` returns a value to close with, or throws to
// show the error and keep the dialog open.
export function formDialog({ title, content, submitLabel = "Apply", id, className = "", submit }) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: `modal ${className}`, id });
    const error = h("p", { class: "error form-error", role: "alert" });
    const form = h("form", { method: "dialog", class: "modal-form" });
    const apply = h("button", { type: "submit", class: "primary" }, submitLabel);
    const cancel = h("button", { type: "button", onClick: () => finish(null) }, "Cancel");
    form.append(
      h("h2", { class: "modal-title" }, title),
      content,
      error,
      h("div", { class: "modal-actions" }, cancel, apply),
    );
    dialog.append(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      apply.disabled = true;
      try {
        finish(await submit());
      } catch (failure) {
        error.textContent = failure.message ?? String(failure);
      } finally {
        apply.disabled = false;
      }
    });
    function finish(value) {
      dialog.close();
      dialog.remove();
      resolve(value);
    }
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
