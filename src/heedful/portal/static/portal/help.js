// Suggestions only need the first words of what is typed: a long message would make
// the suggest request needlessly large, so its fields are cut before sending.
document.addEventListener("htmx:configRequest", (event) => {
  if (!event.detail.path.endsWith("/help/suggest/")) return;
  const params = event.detail.parameters;
  for (const name of ["q", "subject", "message"]) {
    const value = params[name];
    if (typeof value === "string" && value.length > 1000) params[name] = value.slice(0, 1000);
  }
});
