import { describe, expect, it } from 'vitest';
import { fakeReport, fakeResult } from './fixtures.test-util.js';
import { escapeHtml, inlineJson, renderHtmlReport } from './html-report.js';

const hostile = '</script><script>alert(1)</script><!--';

describe('inlineJson', () => {
  it('leaves no `<` that could end the script element, and reads back the same', () => {
    const text = inlineJson({ command: hostile });
    expect(text).not.toContain('<');
    expect(JSON.parse(text)).toEqual({ command: hostile });
  });
});

describe('escapeHtml', () => {
  it('escapes what could open a tag or end an attribute', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;',
    );
  });
});

describe('renderHtmlReport', () => {
  const report = {
    ...fakeReport([fakeResult('websocket'), fakeResult('polling')]),
    command: hostile,
  };
  const script = `const s = "${hostile}";\n//# sourceMappingURL=bench-report.js.map\n`;
  const html = renderHtmlReport(report, {
    script,
    style: 'body{}/*# sourceMappingURL=x.css.map */',
  });

  it('inlines the script, the style and the data; nothing in them ends a script early', () => {
    // The two elements' own ends, and no `<!--`, which would change how HTML reads the rest.
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    expect(html).not.toContain('<!--');
    expect(html).toContain('<style>body{}</style>');
    expect(html).not.toContain('sourceMappingURL');
    const data = /<script type="application\/json" id="bench-data">(.*?)<\/script>/s.exec(html);
    expect(JSON.parse(data![1]!)).toEqual(report);
  });

  it('writes the table as HTML, a row per transport, and the run with the command escaped', () => {
    expect(html.match(/<tr data-transport=/g)).toHaveLength(2);
    expect(html).toContain('<td class="right">40000/40000</td>');
    expect(html).toContain(`<dd>${escapeHtml(hostile)}</dd>`);
    expect(html).toContain('exactly once');
  });

  it('says which transports failed', () => {
    const failed = fakeReport([{ ...fakeResult('sse'), delivered: 39_990, lost: 10 }]);
    expect(renderHtmlReport(failed, { script: '', style: '' })).toContain(
      'Not every message was delivered exactly once: sse (lost 10, duplicated 0).',
    );
  });
});
