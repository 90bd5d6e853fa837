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
