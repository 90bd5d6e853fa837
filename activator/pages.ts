/** The activator's own root page: the apps it serves, as HTML or JSON. */
export function appList(apps: readonly string[], domain: string, address: { port: number } | null, accept: string): { contentType: string; body: string } {
  const port = address && address.port !== 80 ? `:${address.port}` : '';
  const urls = apps.map((app) => ({ name: app, url: `http://${app}.${domain}${port}/` }));
  if (accept.includes('application/json') && !accept.includes('text/html')) {
    return { contentType: 'application/json', body: `${JSON.stringify({ apps: urls })}\n` };
  }
  const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
  const items = urls.map((u) => `<li><a href="${escapeHtml(u.url)}">${escapeHtml(u.name)}</a></li>`).join('\n');
  return {
    contentType: 'text/html; charset=utf-8',
    body: `<!doctype html>\n<title>Dormant</title>\n<h1>Dormant</h1>\n${
      urls.length === 0 ? '<p>No apps yet. Create one with <code>dormant apps create NAME</code> and <code>git push</code> to it.</p>' : `<ul>\n${items}\n</ul>`
    }\n`,
  };
}

/**
 * What a browser that wakes an app sees (spec.coldStart.waitingPage): a small page saying
 * the app is starting, which asks for the same URL again as an API client would (held by
 * the activator until a replica answers, up to the app's requestTimeout), then reloads
 * into the app. Without scripts, it reloads itself every 2 s. Pure: built once per app.
 */
export function waitingPage(app: string): string {
  const name = app.replace(/[^a-z0-9-]/g, '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="2"></noscript>
<title>${name} is starting</title>
<style>body{font:16px/1.5 system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;color:#333}p{margin:.3em;text-align:center}.dot{display:inline-block;width:.6em;height:.6em;border-radius:50%;background:#888;animation:p 1s infinite alternate}@keyframes p{to{opacity:.2}}</style>
</head><body><main><p><span class="dot"></span></p><p><strong>${name}</strong> is starting.</p><p>This page turns into the app as soon as it answers.</p></main>
<script>
(function wait(tries) {
  fetch(location.href, { method: 'HEAD', headers: { 'x-dormant-waiting': '1' }, cache: 'no-store' })
    .then(function (r) { if (r.status < 500 || tries > 30) location.reload(); else setTimeout(function () { wait(tries + 1); }, 1000); })
    .catch(function () { setTimeout(function () { wait(tries + 1); }, 1000); });
})(0);
</script></body></html>
`;
}
