/** Server-rendered sign-in pages: plain HTML forms, labelled fields, no scripts, no PHI. */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export type LoginPage =
  | { kind: 'password'; formToken: string; clientName: string; error?: string }
  | { kind: 'totp'; formToken: string; error?: string }
  | { kind: 'enrol'; formToken: string; secret: string; uri: string; error?: string }
  | { kind: 'error'; message: string };

const STYLE = `body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}
label{display:block;margin-top:1rem;font-weight:600}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}.error{color:#8b0000;border:1px solid #8b0000;padding:.5rem}
code{word-break:break-all}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – Katahdin</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function errorBox(error?: string): string {
  return error ? `<p class="error" role="alert" id="form-error">${escapeHtml(error)}</p>` : '';
}

function form(formToken: string, fields: string, button: string, error?: string): string {
  const described = error ? ' aria-describedby="form-error"' : '';
  return `${errorBox(error)}<form method="post" action="/oauth/authorize"${described}>
<input type="hidden" name="form_token" value="${escapeHtml(formToken)}">${fields}
<button type="submit">${escapeHtml(button)}</button></form>`;
}

const CODE_FIELD = `<label for="code">Six-digit code from your authenticator app</label>
<input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required autofocus>`;

export function renderLoginPage(page: LoginPage): string {
  switch (page.kind) {
    case 'password':
      return layout('Sign in', `<p>Sign in to continue to ${escapeHtml(page.clientName)}.</p>${form(page.formToken, `
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>`,
      'Sign in', page.error)}`);
    case 'totp':
      return layout('Two-step verification', form(page.formToken, CODE_FIELD, 'Verify', page.error));
    case 'enrol':
      return layout('Set up two-step verification', `<p>Your role requires a second factor. Add this account to an
authenticator app, then enter the code it shows.</p>
<p>Secret key: <code>${escapeHtml(page.secret)}</code></p>
<p>Or open this link on your phone: <code>${escapeHtml(page.uri)}</code></p>${form(page.formToken, CODE_FIELD, 'Finish set-up', page.error)}`);
    case 'error':
      return layout('Sign-in problem', `${errorBox(page.message)}<p>Return to the application and start again.</p>`);
  }
}
