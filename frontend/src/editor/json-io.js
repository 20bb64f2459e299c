// Dashboards as JSON files: export (a download of the DashboardInput, units and
// thresholds of every panel included), and the import dialog (a file or pasted text).
import { field, h } from "../ui/dom.js";
import { formDialog } from "../ui/dialog.js";

export function fileName(name) {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return `${slug || "dashboard"}.json`;
}

export function download(name, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`That is not JSON: ${error.message}`, { cause: error });
  }
}

// Resolves with what `accept(parsed)` returns (it throws to refuse), or null.
export function importDialog({ title, submitLabel, accept, initial = "", id = "import-dialog", extra = null }) {
  const text = h("textarea", { id: "import-text", rows: 16, spellcheck: false, value: initial, placeholder: "Paste a dashboard's JSON, or choose a file." });
  const file = h("input", { type: "file", id: "import-file", accept: "application/json,.json" });
  file.addEventListener("change", async () => {
    if (file.files?.[0]) text.value = await file.files[0].text();
  });
  const content = h("div", { class: "import" }, field("File", file), field("JSON", text), extra);
  return formDialog({
    title, submitLabel, id, className: "modal-wide", content,
    submit: () => accept(parseJson(text.value)),
  });
}
