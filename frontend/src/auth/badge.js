// Who is signed in through the identity provider, shown beside "Sign out": the access
// token's subject and tenant, read from its claims for display only (the gateway
// decides what the token may do).
export function showIdentity(who) {
  let badge = document.getElementById("signed-in-as");
  if (!who) {
    badge?.remove();
    return;
  }
  if (badge === null) {
    badge = document.createElement("span");
    badge.id = "signed-in-as";
    badge.className = "hint";
    document.getElementById("sign-out")?.before(badge);
  }
  badge.dataset.sub = who.sub;
  badge.dataset.tenant = who.tenant;
  badge.textContent = who.tenant ? `${who.sub} · ${who.tenant}` : who.sub;
}
