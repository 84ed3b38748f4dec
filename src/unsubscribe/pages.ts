// Owns the HTML of the unsubscribe pages: small, server-rendered, no JavaScript, accessible (lang,
// labels, visible focus, contrast), mobile-friendly, branded by configuration, and every value escaped
// (delivery ids come from the URL, i.e. from anyone). An operator may replace the layout with their own
// file (UNSUBSCRIBE_TEMPLATE): `{{name}}` is replaced escaped, `{{{name}}}` as is.
import fs from "node:fs";

export interface Branding {
  name: string;
  logoUrl: string | null;
  accent: string;
  supportUrl: string | null;
  lang: string;
  /** A layout file of the operator's, read once at start. */
  template: string | null;
}

export const escapeHtml = (s: string) =>
  s.replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Relative luminance (WCAG 2) of a #rrggbb colour. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}
const contrast = (a: string, b: string) => {
  const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (l1! + 0.05) / (l2! + 0.05);
};

/** Button text colour with at least 4.5:1 contrast on the accent: white if it passes, else near-black. */
export function onAccent(accent: string): string {
  return contrast(accent, "#ffffff") >= 4.5 ? "#ffffff" : "#111111";
}

/** "t***@example.com", "+1 *** *** 4567": enough to recognise, not enough to learn an address. */
export function maskRecipient(recipient: string | null): string | null {
  if (!recipient) return null;
  const at = recipient.indexOf("@");
  if (at > 0) return `${recipient[0]}***${recipient.slice(at)}`;
  const digits = recipient.replace(/\D/g, "");
  if (digits.length >= 6) return `*** ${digits.slice(-4)}`;
  return null; // device tokens, channels, URLs: no useful hint
}

const KIND: Record<string, string> = {
  email: "email",
  sms: "text message",
  push: "push notification",
  in_app: "in-app message",
  whatsapp: "WhatsApp message",
  slack: "Slack message",
  webhook: "message",
};
export const kindOf = (channel: string | null) => (channel && KIND[channel]) || "message";

const STYLE = (accent: string) => `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f4f5f7}
main{max-width:34rem;margin:8vh auto;padding:2rem 1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}
p{margin:0 0 1rem}
.logo{display:block;max-height:48px;max-width:60%;margin:0 0 1.5rem}
.hint{color:#4a4a4a}
button{font:inherit;font-weight:600;padding:.75rem 1.5rem;border-radius:8px;border:2px solid ${accent};background:${accent};color:${onAccent(accent)};cursor:pointer;min-height:44px}
button.secondary{background:#fff;color:#1a1a1a;border-color:#8a8a8a}
button:focus-visible,a:focus-visible{outline:3px solid #1a1a1a;outline-offset:3px}
form{margin:1.5rem 0 0}
footer{margin-top:2rem;font-size:.875rem;color:#4a4a4a}
a{color:#1a1a1a}
@media (max-width:30rem){main{margin:0;border-radius:0;min-height:100vh}button{width:100%}}
`;

const DEFAULT_LAYOUT = `<!doctype html>
<html lang="{{lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>{{title}} · {{brand_name}}</title>
<style nonce="{{nonce}}">{{{style}}}</style>
</head>
<body>
<main>
{{{logo}}}
{{{content}}}
{{{footer}}}
</main>
</body>
</html>
`;

export function loadTemplate(path: string | undefined): string | null {
  return path ? fs.readFileSync(path, "utf8") : null;
}

function fill(template: string, values: Record<string, string>): string {
  return template
    .replace(/\{\{\{\s*(\w+)\s*\}\}\}/g, (_, k: string) => values[k] ?? "")
    .replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => escapeHtml(values[k] ?? ""));
}

export interface PageOptions {
  title: string;
  /** Trusted HTML built below from escaped values. */
  content: string;
  nonce: string;
}

export function page(brand: Branding, o: PageOptions): string {
  const logo = brand.logoUrl ? `<img class="logo" src="${escapeHtml(brand.logoUrl)}" alt="${escapeHtml(brand.name)}">` : "";
  const footer = brand.supportUrl
    ? `<footer>Questions? <a href="${escapeHtml(brand.supportUrl)}">Contact ${escapeHtml(brand.name)}</a>.</footer>`
    : "";
  return fill(brand.template ?? DEFAULT_LAYOUT, {
    lang: brand.lang,
    title: o.title,
    brand_name: brand.name,
    nonce: o.nonce,
    style: STYLE(brand.accent),
    logo,
    content: o.content,
    footer,
  });
}

const form = (action: string, value: boolean, label: string, token: string | null, secondary = false) =>
  `<form method="post" action="${escapeHtml(action)}">` +
  `<input type="hidden" name="unsubscribe" value="${value}">` +
  (token ? `<input type="hidden" name="token" value="${escapeHtml(token)}">` : "") +
  `<button type="submit"${secondary ? ' class="secondary"' : ""}>${escapeHtml(label)}</button></form>`;

export const content = {
  confirm: (action: string, what: string, hint: string | null, brand: string) =>
    `<h1>Unsubscribe from ${escapeHtml(brand)}?</h1>` +
    `<p>You will stop receiving marketing messages like the ${escapeHtml(what)} that brought you here${hint ? `, sent to <strong>${escapeHtml(hint)}</strong>` : ""}.</p>` +
    `<p class="hint">Messages you need for your account, such as receipts, may still arrive.</p>` +
    form(action, true, "Unsubscribe", null),
  done: (action: string, token: string) =>
    `<h1 tabindex="-1">You're unsubscribed</h1>` +
    `<p>You won't receive these messages any more. Messages already on their way may still arrive for a little while.</p>` +
    `<p class="hint">Unsubscribed by mistake?</p>` +
    form(action, false, "Resubscribe", token, true),
  resubscribed: (action: string) =>
    `<h1 tabindex="-1">You're subscribed again</h1>` +
    `<p>Welcome back: you will keep receiving these messages.</p>` +
    form(action, true, "Unsubscribe after all", null, true),
  invalid: () =>
    `<h1>This unsubscribe link doesn't look right</h1>` +
    `<p>It may have been cut short when it was copied. Open the message again and use the unsubscribe link at the bottom, or reply to the message and ask to be removed.</p>`,
  expired: () =>
    `<h1>That page has expired</h1>` +
    `<p>For your safety, resubscribing needs a fresh page. Open the unsubscribe link in the message again.</p>`,
  tooMany: () =>
    `<h1>Too many requests</h1>` +
    `<p>Please wait a minute and try again. Your earlier request, if any, has been recorded.</p>`,
  testSend: () =>
    `<h1>This link is from a test or preview message</h1>` +
    `<p>Customer.io puts the word <strong>unsent</strong> in place of a message's delivery id in previews and test sends. In a message sent for real, this link unsubscribes its recipient.</p>` +
    `<p class="hint">Nothing has been recorded, and nobody has been unsubscribed.</p>`,
  unavailable: () =>
    `<h1>Something went wrong on our side</h1>` +
    `<p>Your request could not be saved just now. Please try again in a minute.</p>`,
};
