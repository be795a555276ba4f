import type { BrowserContext, ConsoleMessage, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import path from 'node:path';

// Helpers for zzzzzzzz-xss.spec.ts: the corpus (end2end/xss/corpus.txt), a
// small MIME reader for the .eml files the server writes, and the watch that
// says whether anything ran in a page. Not a spec file: importing it runs no tests.

declare global {
  interface Window {
    __xss?: unknown;
    __cspViolations?: string[];
  }
}

export type Payload = {
  /** 1-based, as in alert(n) and top.__xss = n. */
  n: number;
  /** The line as written in the corpus file (escapes undone, placeholders not yet filled). */
  template: string;
  /** What gets stored. */
  text: string;
};

export const CORPUS_FILE = path.resolve(__dirname, '..', 'xss', 'corpus.txt');

const js = (n: number) => `top.__xss=${n},alert(${n})`;
const jsUrl = (n: number) => `javascript:${js(n)}`;
const codes = (s: string) => Array.from(s).map((c) => c.codePointAt(0) as number);

/** `\n`, `\t`, `\r`, `\0`, `\xHH`, `\uHHHH` and `\\`; any other backslash stays. */
export function unescapeLine(line: string): string {
  let out = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c !== '\\' || i + 1 >= line.length) {
      out += c;
      continue;
    }
    const next = line[i + 1];
    const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '0': '\0', '\\': '\\' };
    if (next in simple) {
      out += simple[next];
      i += 1;
    } else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
      out += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(line.slice(i + 2, i + 6))) {
      out += String.fromCharCode(parseInt(line.slice(i + 2, i + 6), 16));
      i += 5;
    } else {
      out += c;
    }
  }
  return out;
}

export function fill(template: string, n: number): string {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" onload="${js(n)}"/>`;
  const values: Record<string, string> = {
    N: String(n),
    JS: js(n),
    JSURL_DEC: codes(jsUrl(n)).map((c) => `&#${c};`).join(''),
    JSURL_DEC7: codes(jsUrl(n)).map((c) => `&#${String(c).padStart(7, '0')}`).join(''),
    JSURL_HEX: codes(jsUrl(n)).map((c) => `&#x${c.toString(16).toUpperCase()}`).join(''),
    CHARCODES: codes(js(n)).join(','),
    B64_JS: Buffer.from(js(n)).toString('base64'),
    B64_HTML: Buffer.from(`<script>${js(n)}</script>`).toString('base64'),
    B64_SVG: Buffer.from(svg).toString('base64'),
  };
  return template.replace(/@@([A-Z0-9_]+)@@/g, (whole, name: string) => {
    if (!(name in values)) throw new Error(`unknown corpus placeholder ${whole}`);
    return values[name];
  });
}

export function loadCorpus(file = CORPUS_FILE): Payload[] {
  const payloads: Payload[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const template = unescapeLine(line);
    const n = payloads.length + 1;
    payloads.push({ n, template, text: fill(template, n) });
  }
  return payloads;
}

// ---------------------------------------------------------------- MIME

export type Mail = {
  file: string;
  headers: Record<string, string>;
  subject: string;
  to: string;
  text: string;
  html: string;
};

function decodeQuotedPrintable(body: string): Buffer {
  const bytes: number[] = [];
  const soft = body.replace(/=\r?\n/g, '');
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '7bit').trim().toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable':
      return decodeQuotedPrintable(body).toString('utf8');
    default:
      return body;
  }
}

/** RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`); throws on a malformed one. */
export function decodeWords(value: string): string {
  // Whitespace between two adjacent encoded words is not part of the text.
  const joined = value.replace(/(\?=)\s+(=\?)/g, '$1$2');
  return joined.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_all, charset: string, kind: string, text: string) => {
    if (!/^utf-?8$/i.test(charset)) throw new Error(`unexpected charset ${charset}`);
    if (kind.toLowerCase() === 'b') {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new Error(`malformed base64 word ${text}`);
      return Buffer.from(text, 'base64').toString('utf8');
    }
    return decodeQuotedPrintable(text.replace(/_/g, ' ')).toString('utf8');
  });
}

function splitHeaders(raw: string): [Record<string, string>, string] {
  const at = raw.search(/\r?\n\r?\n/);
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers: Record<string, string> = {};
  // Unfold: a line starting with white space continues the previous one.
  for (const line of head.replace(/\r?\n[ \t]/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return [headers, body];
}

function parts(headers: Record<string, string>, body: string): { type: string; text: string }[] {
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const out: { type: string; text: string }[] = [];
    const pieces = body.split(new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    for (const piece of pieces.slice(1)) {
      if (piece.startsWith('--')) break;
      const [h, b] = splitHeaders(piece.replace(/^\r?\n/, ''));
      out.push(...parts(h, b));
    }
    return out;
  }
  return [{ type: type.split(';')[0].trim().toLowerCase(), text: decodeBody(body, headers['content-transfer-encoding']) }];
}

export function parseMail(file: string): Mail {
  const raw = readFileSync(file, 'utf8');
  const [headers, body] = splitHeaders(raw);
  const all = parts(headers, body);
  return {
    file,
    headers,
    subject: decodeWords(headers['subject'] ?? ''),
    to: headers['to'] ?? '',
    text: all.filter((p) => p.type === 'text/plain').map((p) => p.text).join('\n'),
    html: all.filter((p) => p.type === 'text/html').map((p) => p.text).join('\n'),
  };
}

// ---------------------------------------------------------------- watching pages

/** Runs in every frame before its own scripts: records CSP violations where the page can see them. */
export function cspProbe() {
  window.__cspViolations = [];
  document.addEventListener(
    'securitypolicyviolation',
    (e) => {
      const line = `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber}) ${e.sample}`;
      (window.__cspViolations ??= []).push(line);
      console.error(`[csp-violation] ${line}`);
    },
    true,
  );
}

/** Everything that went wrong in the pages of one context, with where. */
export class Findings {
  dialogs: string[] = [];
  console: string[] = [];
  pageErrors: string[] = [];
  csp: string[] = [];
  xss: string[] = [];
  dom: string[] = [];
  titles: string[] = [];
  failedLoads: string[] = [];
  /** Console errors that are only a missing image (a relative `<img src>` kept by the sanitiser). */
  imageMisses: string[] = [];
  /** Addresses the test opens knowing they answer an error (a 404, a refused form). */
  expectedErrors = new Set<string>();
  /** Known problems that are not script running, by what they are: counted, reported, not failed. */
  known = new Map<string, number>();

  /** Forgets what was found (not which addresses are expected to fail). */
  reset() {
    const expected = this.expectedErrors;
    Object.assign(this, new Findings());
    this.expectedErrors = expected;
  }

  note(what: string) {
    this.known.set(what, (this.known.get(what) ?? 0) + 1);
  }

  all(): string[] {
    return [
      ...this.dialogs.map((d) => `dialog: ${d}`),
      ...this.pageErrors.map((e) => `uncaught: ${e}`),
      ...this.csp.map((c) => `CSP: ${c}`),
      ...this.xss.map((x) => `__xss: ${x}`),
      ...this.dom.map((d) => `active markup: ${d}`),
      ...this.titles.map((t) => `title: ${t}`),
      ...this.console.map((c) => `console: ${c}`),
      ...this.failedLoads.map((f) => `failed load: ${f}`),
    ];
  }
}

/**
 * Messages that are known and are not script running, each with why.
 * - The campaign page previews an email in `<iframe sandbox srcdoc>`; the frame
 *   inherits the app's `style-src 'self'`, so the email's own inline styles
 *   are refused there (the preview shows the email unstyled).
 * - Playwright's init scripts (the hydration and CSP probes) are refused in
 *   that sandboxed frame; the frame's HTML itself is opened with scripts on
 *   by the email test, where anything in it would run.
 */
export const KNOWN: { what: string; url: RegExp; text: RegExp }[] = [
  { what: 'the email preview frame refuses the email\'s inline styles (style-src)', url: /^about:srcdoc$/, text: /^Applying inline style violates the following Content Security Policy directive 'style-src/ },
  { what: 'Playwright\'s init scripts are refused in the sandboxed email preview frame', url: /^about:srcdoc$/, text: /^Blocked script execution in 'about:srcdoc' because the document's frame is sandboxed/ },
];

function known(f: Findings, url: string, text: string): boolean {
  const k = KNOWN.find((x) => x.url.test(url) && x.text.test(text));
  if (k) f.note(k.what);
  return k !== undefined;
}

/** Watches every page of `context` (now and later) into `f`. */
export async function watchContext(context: BrowserContext, f: Findings) {
  await context.addInitScript(cspProbe);
  const badImages = new Set<string>();
  const onPage = (page: Page) => {
    page.on('dialog', (dialog) => {
      f.dialogs.push(`${page.url()}: ${dialog.type()} ${JSON.stringify(dialog.message())}`);
      void dialog.dismiss().catch(() => {});
    });
    page.on('pageerror', (error) => {
      if (!known(f, page.url(), error.message)) f.pageErrors.push(`${page.url()}: ${error.message}`);
    });
    page.on('response', (response) => {
      if (response.status() < 400) return;
      if (f.expectedErrors.has(response.url())) return;
      const request = response.request();
      if (request.resourceType() === 'image') badImages.add(response.url());
      else f.failedLoads.push(`${page.url()}: ${response.status()} ${request.resourceType()} ${response.url()}`);
    });
    page.on('requestfailed', (request) => {
      const reason = request.failure()?.errorText ?? '';
      // A navigation the test itself interrupted, or an image that is not there.
      if (reason === 'net::ERR_ABORTED' || request.resourceType() === 'image') {
        badImages.add(request.url());
        return;
      }
      f.failedLoads.push(`${page.url()}: ${reason} ${request.resourceType()} ${request.url()}`);
    });
    page.on('console', (message: ConsoleMessage) => {
      const text = message.text();
      const where = `${page.url()}: ${text}`;
      if (known(f, message.location().url || page.url(), text) || (message.type() === 'error' && known(f, page.url(), text))) return;
      if (text.startsWith('[csp-violation]') || /Content Security Policy|Refused to (execute|load|apply|frame|connect|evaluate)/i.test(text)) {
        f.csp.push(where);
      } else if (message.type() === 'error') {
        const url = message.location().url;
        if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(text) && f.expectedErrors.has(url)) return;
        if (/^Failed to load resource/.test(text) && (badImages.has(url) || /\.(png|jpe?g|gif|svg|webp)$|\/x$/i.test(url))) {
          f.imageMisses.push(where);
        } else {
          f.console.push(where);
        }
      }
    });
  };
  context.pages().forEach(onPage);
  context.on('page', onPage);
}

export type PageReport = { found: string[]; xss: unknown; csp: string[]; title: string; text: string };

/**
 * What in the document could run script: event-handler attributes, script
 * URLs, scripts without this response's nonce, frames and objects, meta
 * refresh, base; with `__xss`, the CSP violations seen, the title and (when
 * `withText`) the text. `allowFrames` lists selectors of frames the page may
 * have (the sandboxed email preview). Runs in the page.
 */
export function pageReport({ allowFrames, withText }: { allowFrames: string[]; withText: boolean }): PageReport {
  const found: string[] = [];
  const urlAttributes = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'background', 'poster', 'lowsrc', 'dynsrc', 'codebase', 'cite', 'ping'];
  // What the browser makes of the address (its URL parser decides what runs):
  // a script scheme, or a data: document that could run script.
  const scriptUrl = (v: string, base: string) => {
    let protocol = '';
    try {
      protocol = new URL(v, base).protocol;
    } catch {
      protocol = '';
    }
    const data = v.replace(/^[\u0000-\u0020]+/, '').replace(/[\t\n\r]/g, '').toLowerCase();
    return /^(javascript|vbscript|livescript):$/.test(protocol) || /^data:(text\/html|text\/javascript|application\/javascript|image\/svg|application\/xhtml|text\/xml)/.test(data);
  };
  const describe = (el: Element) => el.outerHTML.slice(0, 160);
  const scan = (doc: Document, where: string) => {
    const nonce = (doc.querySelector('script[nonce]') as HTMLScriptElement | null)?.nonce;
    for (const el of Array.from(doc.querySelectorAll('*'))) {
      for (const attr of Array.from(el.attributes)) {
        const name = attr.name.toLowerCase();
        if (name.startsWith('on')) found.push(`${where}: handler ${name} on ${describe(el)}`);
        if (urlAttributes.includes(name) && scriptUrl(attr.value, doc.baseURI)) found.push(`${where}: script URL in ${name} of ${describe(el)}`);
        if (name === 'srcdoc' && !allowFrames.some((s) => el.matches(s))) found.push(`${where}: srcdoc on ${describe(el)}`);
        if (name === 'style' && /expression\s*\(|javascript:|behavior\s*:|-moz-binding/i.test(attr.value)) found.push(`${where}: script in style of ${describe(el)}`);
      }
      const tag = el.tagName.toLowerCase();
      if (tag === 'script') {
        const s = el as HTMLScriptElement;
        const own = (nonce && s.nonce === nonce) || (s.src && new URL(s.src, doc.baseURI).origin === location.origin && new URL(s.src, doc.baseURI).pathname.startsWith('/pkg/'));
        if (!own) found.push(`${where}: script ${describe(el)}`);
      }
      if (['iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'portal'].includes(tag) && !allowFrames.some((s) => el.matches(s))) {
        found.push(`${where}: ${tag} ${describe(el)}`);
      }
      if (tag === 'meta' && /refresh|link|set-cookie|content-security/i.test(el.getAttribute('http-equiv') ?? '')) found.push(`${where}: meta ${describe(el)}`);
      const link = tag === 'link' ? new URL((el as HTMLLinkElement).href, doc.baseURI) : undefined;
      if (link && !(link.origin === location.origin && /^\/pkg\/|^\/favicon\.svg$|\/feeds\//.test(link.pathname))) {
        found.push(`${where}: link ${describe(el)}`);
      }
      if (tag === 'style' && doc === document && el.closest('body')) found.push(`${where}: style element ${describe(el)}`);
    }
  };
  scan(document, 'document');
  for (const frame of Array.from(document.querySelectorAll('iframe'))) {
    try {
      if (frame.contentDocument) scan(frame.contentDocument, `frame ${frame.className || frame.src}`);
    } catch {
      // A cross-origin frame: nothing of ours.
    }
  }
  return {
    found,
    xss: window.__xss,
    csp: window.__cspViolations ?? [],
    title: document.title,
    text: withText ? document.body?.textContent ?? '' : '',
  };
}
