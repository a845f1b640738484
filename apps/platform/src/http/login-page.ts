import { escapeHtml } from './html.js'

/** The sign-in page: a form that posts JSON to `/api/session`, then goes on to `next`. */
export function renderLoginPage({ next }: { next: string }): string {
  const target = JSON.stringify(next).replace(/</g, '\\u003c')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Easy Access — sign in</title>
<style>
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f5f6f8;color:#1d2433;display:grid;place-items:center;min-height:100vh}
form{background:#fff;border:1px solid #e3e6ec;border-radius:8px;padding:24px 28px;width:320px;display:flex;flex-direction:column;gap:12px}
h1{font-size:18px;margin:0 0 4px}label{display:flex;flex-direction:column;gap:4px;color:#6b7385;font-size:12px}
input{font:inherit;padding:7px 9px;border:1px solid #e3e6ec;border-radius:6px;color:#1d2433}
button{font:inherit;cursor:pointer;border:1px solid #0b5cad;background:#0b5cad;color:#fff;border-radius:6px;padding:7px 12px}
#login-error{color:#b3261e;min-height:1.4em;margin:0}
</style></head>
<body>
<form id="login-form" data-testid="login-form" data-next="${escapeHtml(next)}">
  <h1>Easy Access</h1>
  <label>User name<input id="username" data-testid="login-username" name="username" autocomplete="username" required></label>
  <label>Password<input id="password" data-testid="login-password" name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit" data-testid="login-submit">Sign in</button>
  <p id="login-error" data-testid="login-error" role="alert"></p>
</form>
<script>
const next = ${target};
document.getElementById('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { username: document.getElementById('username').value, password: document.getElementById('password').value };
  const res = await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.ok) { location.assign(next); return; }
  const answer = await res.json().catch(() => ({}));
  document.getElementById('login-error').textContent = answer.message || 'Sign-in failed.';
});
</script>
</body></html>`
}
