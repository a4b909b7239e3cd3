// The offline page: try again on request, and by itself every 10 s while the hub is away.
"use strict";

async function hubAnswers() {
  try {
    const res = await fetch("/api/health", { cache: "no-store" });
    return res.ok;
  } catch (_) {
    return false;
  }
}

async function retry() {
  if (await hubAnswers()) location.replace("/");
}

document.getElementById("retry").addEventListener("click", () => {
  document.getElementById("retry-note").textContent = "Trying\u2026";
  retry().then(() => {
    document.getElementById("retry-note").textContent = "Still not reachable. Trying again every 10 seconds.";
  });
});
setInterval(retry, 10000);
