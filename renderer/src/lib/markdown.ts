// Markdown from the model, made safe to show: marked turns it into HTML, DOMPurify keeps only what Markdown itself
// produces. Raw HTML the model writes is dropped before it becomes markup; an allow-list of tags and attributes is
// the second wall (no scripts, handlers, frames, styles, forms or images), links keep only http(s) and mailto
// targets and get rel="noreferrer noopener". Nothing here opens a link: the window blocks navigation and new
// windows, and the chat view swallows clicks on links.
import DOMPurify from 'dompurify';
import { Marked, type Tokens } from 'marked';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    // Raw HTML (block or inline) from the model: gone, not shown as markup.
    html: () => '',
    // Markdown images would load something the model chose: show their alt text instead.
    image: ({ text }: Tokens.Image) => escapeHtml(text),
    // Task lists without form controls.
    checkbox: ({ checked }: Tokens.Checkbox) => (checked ? '☑ ' : '☐ '),
  },
});

const ALLOWED_TAGS = [
  'a',
  'blockquote',
  'br',
  'code',
  'del',
  'em',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'li',
  'ol',
  'p',
  'pre',
  's',
  'strong',
  'table',
  'tbody',
  'td',
  'th',
  'thead',
  'tr',
  'ul',
];
const ALLOWED_ATTR = ['href', 'title', 'class', 'align', 'start'];
const SAFE_URL = /^(?:https?:|mailto:)/i;

let purifier: ReturnType<typeof DOMPurify> | null = null;

/** A DOMPurify of our own, so that its hooks touch nobody else's sanitizing. */
function purify() {
  if (purifier) return purifier;
  const p = DOMPurify(window);
  p.addHook('uponSanitizeAttribute', (_node, data) => {
    // Classes only for a code block's language (marked writes class="language-xyz").
    if (data.attrName === 'class' && !/^language-[\w+#.-]{1,40}$/.test(data.attrValue)) data.keepAttr = false;
  });
  p.addHook('afterSanitizeAttributes', (node) => {
    if (node.nodeName === 'A' && node instanceof Element) {
      if (node.hasAttribute('href')) {
        node.setAttribute('rel', 'noreferrer noopener');
        node.setAttribute('target', '_blank');
      }
    }
  });
  purifier = p;
  return p;
}

/** Markdown → sanitized HTML, safe for `{@html}`. */
export function renderMarkdown(text: string): string {
  const html = marked.parse(text ?? '', { async: false });
  return purify().sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP: SAFE_URL,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ALLOW_UNKNOWN_PROTOCOLS: false,
    KEEP_CONTENT: true,
    RETURN_DOM: false,
    RETURN_DOM_FRAGMENT: false,
  });
}
