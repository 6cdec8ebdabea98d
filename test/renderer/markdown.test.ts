// renderMarkdown against hostile model output: nothing active survives, ordinary Markdown does.
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../renderer/src/lib/markdown.ts';

/** The rendered HTML as a DOM, to check what a browser would actually build from it. */
function dom(md: string) {
  const div = document.createElement('div');
  div.innerHTML = renderMarkdown(md);
  return div;
}

/** Everything that could run code or load something: none of it may appear. */
function expectInert(div: HTMLElement) {
  expect(
    div.querySelector('script, iframe, frame, object, embed, style, link, meta, base, form, svg, math'),
  ).toBeNull();
  expect(div.querySelector('img, video, audio, source, picture, input, button, textarea')).toBeNull();
  for (const el of div.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      expect(attr.name).not.toMatch(/^on/i);
      expect(attr.name).not.toBe('style');
      expect(attr.name).not.toBe('srcdoc');
      expect(attr.value).not.toMatch(/^\s*(javascript|vbscript|data):/i);
    }
  }
}

describe('renderMarkdown', () => {
  it('renders ordinary Markdown', () => {
    const div = dom(
      '# Title\n\nSome **bold** and *italic* and `code`.\n\n- one\n- two\n\n```js\nconst a = 1 < 2;\n```',
    );
    expect(div.querySelector('h1')?.textContent).toBe('Title');
    expect(div.querySelector('strong')?.textContent).toBe('bold');
    expect(div.querySelector('em')?.textContent).toBe('italic');
    expect(div.querySelectorAll('li')).toHaveLength(2);
    expect(div.querySelector('pre code')?.textContent).toBe('const a = 1 < 2;\n');
    expect(div.querySelector('pre code')?.className).toBe('language-js');
  });

  it('renders GFM tables and task lists without form controls', () => {
    const div = dom('| a | b |\n| - | :-: |\n| 1 | 2 |\n\n- [x] done\n- [ ] todo');
    expect(div.querySelector('table td')?.textContent).toBe('1');
    expect(div.textContent).toContain('☑');
    expect(div.textContent).toContain('☐');
    expectInert(div);
  });

  it('drops <script> blocks, and their contents', () => {
    const html = renderMarkdown('Hello\n\n<script>alert("pwned")</script>\n\nbye');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('pwned');
    const div = dom('Hello\n\n<script>alert("pwned")</script>\n\nbye');
    expect(div.textContent).toContain('Hello');
    expect(div.textContent).toContain('bye');
    expectInert(div);
  });

  it('drops inline script and event handlers', () => {
    const inputs = [
      'text <script>alert(1)</script> more',
      '<img src=x onerror=alert(1)>',
      'inline <img src="x" onerror="alert(1)"> image',
      '<svg onload=alert(1)><circle/></svg>',
      '<div onclick="alert(1)">click</div>',
      '<a href="#" onmouseover="alert(1)">hover</a>',
      '<details open ontoggle=alert(1)>',
      '<body onload=alert(1)>',
      '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
      '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    ];
    for (const md of inputs) {
      const html = renderMarkdown(md);
      expect(html, md).not.toMatch(/onerror|onload|onclick|onmouseover|ontoggle/i);
      expect(html, md).not.toMatch(/<(script|img|svg|math|style|body|details|div)\b/i);
      expectInert(dom(md));
    }
  });

  it('drops iframes, objects, forms, styles and meta refreshes', () => {
    const inputs = [
      '<iframe src="https://evil.example"></iframe>',
      '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
      '<object data="javascript:alert(1)"></object>',
      '<embed src="https://evil.example/x.swf">',
      '<form action="https://evil.example"><input name=a><button>go</button></form>',
      '<style>body{display:none}</style>',
      '<meta http-equiv="refresh" content="0;url=https://evil.example">',
      '<link rel=stylesheet href="https://evil.example/x.css">',
      '<base href="https://evil.example/">',
      '<p style="position:fixed;inset:0">cover</p>',
    ];
    for (const md of inputs) {
      const html = renderMarkdown(md);
      expect(html, md).not.toMatch(/<(iframe|object|embed|form|input|button|style|meta|link|base)\b/i);
      expect(html, md).not.toMatch(/style=|srcdoc|evil\.example/i);
      expectInert(dom(md));
    }
  });

  it('removes javascript:, vbscript: and data: link targets', () => {
    const inputs = [
      '[click](javascript:alert(1))',
      '[click](JaVaScRiPt:alert(1))',
      '[click](  javascript:alert(1))',
      '[click](java\tscript:alert(1))',
      '[click](&#106;avascript:alert(1))',
      '[click](vbscript:msgbox(1))',
      '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
      '<javascript:alert(1)>',
      '[ref][x]\n\n[x]: javascript:alert(1)',
    ];
    for (const md of inputs) {
      const div = dom(md);
      for (const a of div.querySelectorAll('a')) {
        const href = a.getAttribute('href');
        if (href !== null) expect(href, md).toMatch(/^(https?:|mailto:)/i);
      }
      expect(renderMarkdown(md), md).not.toMatch(/href="\s*(javascript|vbscript|data)/i);
      expectInert(div);
    }
  });

  it('keeps http(s) links with rel="noreferrer noopener"', () => {
    const div = dom('See [the docs](https://example.com/docs "Docs") and https://example.org too.');
    const links = [...div.querySelectorAll('a')];
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://example.com/docs', 'https://example.org']);
    for (const a of links) {
      expect(a.getAttribute('rel')).toBe('noreferrer noopener');
      expect(a.getAttribute('target')).toBe('_blank');
    }
    expect(links[0]!.getAttribute('title')).toBe('Docs');
  });

  it('shows Markdown images as their alt text, loading nothing', () => {
    for (const md of [
      '![a cat](https://evil.example/track.png)',
      '![a cat](http://evil.example/track.png "t")',
      '![a cat](data:image/png;base64,iVBORw0KGgo=)',
      '![a cat](glance://attachment/abc)',
      '[![a cat](https://evil.example/x.png)](https://example.com)',
    ]) {
      const div = dom(md);
      expect(div.querySelector('img'), md).toBeNull();
      expect(div.textContent, md).toContain('a cat');
      expect(renderMarkdown(md), md).not.toMatch(/evil\.example\/(track|x)\.png|src=/);
    }
  });

  it('escapes alt text and code rather than running them', () => {
    const div = dom('![<img src=x onerror=alert(1)>](https://x.example/a.png)\n\n`<script>alert(1)</script>`');
    expectInert(div);
    expect(div.querySelector('code')?.textContent).toBe('<script>alert(1)</script>');
  });

  it('does not let classes or ids through (no spoofing the app’s own styles, no DOM clobbering)', () => {
    const div = dom('```notice" onclick="alert(1)\nx\n```\n\n<p class="notice" id="app">x</p>\n\n## Heading');
    expectInert(div);
    expect(div.querySelector('[id]')).toBeNull();
    for (const el of div.querySelectorAll('[class]')) expect(el.className).toMatch(/^language-/);
  });

  it('copes with empty and odd input', () => {
    expect(renderMarkdown('')).toBe('');
    expect(() => renderMarkdown('<'.repeat(10_000))).not.toThrow();
    expect(() => renderMarkdown('*'.repeat(10_000))).not.toThrow();
    expect(dom('a < b > c').textContent).toContain('a < b > c');
  });
});
