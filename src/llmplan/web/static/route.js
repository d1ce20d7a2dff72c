// Shareable addresses: #/scenarios/{id} and #/plans/{id} open that saved scenario or plan
// result; the page writes the address of what it loaded, so the address bar can be sent on.

export function routeOf(hash = window.location.hash) {
  const m = /^#\/(scenarios|plans)\/([A-Za-z0-9_-]{1,64})$/.exec(hash);
  return m ? { kind: m[1], id: m[2] } : null;
}

// kind null: nothing saved is shown (an example, an imported file, a deleted scenario).
export function setRoute(kind, id) {
  const hash = kind ? `#/${kind}/${id}` : "";
  if (window.location.hash === hash) return;
  window.history.pushState(null, "", hash || window.location.pathname + window.location.search);
}
