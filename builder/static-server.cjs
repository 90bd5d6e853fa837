// Serves a static site on $PORT from the first of the folders it is given (relative to the
// current folder; default the current folder) that has an index.html: a build's output is
// dist/, build/ or out/ by the tool that made it. Copied into each static release by
// Dormant, so it needs nothing but Node. index.html answers for folders; with
// DORMANT_SPA=1, a path that names no file and no extension gets the root index.html (a
// single-page app's client-side routes).
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const candidates = process.argv.length > 2 ? process.argv.slice(2) : ['.'];
const found = candidates.find((folder) => fs.existsSync(path.join(process.cwd(), folder, 'index.html')));
if (found === undefined) {
  console.error(`no index.html in ${candidates.map((folder) => (folder === '.' ? 'the release' : `${folder}/`)).join(', ')}: nothing to serve`);
  process.exit(1);
}
const root = path.resolve(process.cwd(), found);
const realRoot = fs.realpathSync(root);
const spa = process.env.DORMANT_SPA === '1';
const types = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm', '.woff2': 'font/woff2', '.webp': 'image/webp',
};

function send(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
}

http
  .createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed');
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return send(res, 400, 'bad path');
    }
    let file = path.join(root, path.normalize(pathname));
    const segments = path.relative(root, file).split(path.sep);
    if (!file.startsWith(root) || segments.includes('.git') || segments[0] === '.dormant-static-server.cjs') return send(res, 404, 'not found');
    fs.stat(file, (error, info) => {
      if (!error && info.isDirectory()) file = path.join(file, 'index.html');
      else if (error && spa && path.extname(file) === '') file = path.join(root, 'index.html');
      // Symlinks in the site may not lead out of it.
      fs.realpath(file, (realError, real) => {
        if (realError || !(real === realRoot || real.startsWith(realRoot + path.sep))) return send(res, 404, 'not found');
        fs.stat(real, (statError, stat) => {
          if (statError || !stat.isFile()) return send(res, 404, 'not found');
          res.writeHead(200, { 'content-type': types[path.extname(file).toLowerCase()] || 'application/octet-stream', 'content-length': stat.size });
          if (req.method === 'HEAD') return res.end();
          fs.createReadStream(real).pipe(res);
        });
      });
    });
  })
  .listen(Number(process.env.PORT || 8080));
