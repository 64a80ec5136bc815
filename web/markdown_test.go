package web

import (
	"strings"
	"testing"
)

func TestRenderMarkdown(t *testing.T) {
	src := strings.Join([]string{
		"# Expose *web*",
		"",
		"Run `kubectl get svc` and look at **TYPE**;",
		"see [the docs](https://kubernetes.io/docs/) or [bad](javascript:alert).",
		"",
		"- one <b>",
		"- two",
		"  continued",
		"",
		"1. first",
		"",
		"> a note",
		"",
		"| a | b |",
		"|---|---|",
		"| 1 | `x|` |",
		"",
		"```sh",
		"kubectl -n ex expose deploy web --port=80 <&>",
		"```",
	}, "\n")
	want := strings.Join([]string{
		`<h1>Expose <em>web</em></h1>`,
		`<p>Run <code>kubectl get svc</code> and look at <strong>TYPE</strong>; see <a href="https://kubernetes.io/docs/" target="_blank" rel="noopener">the docs</a> or bad.</p>`,
		`<ul>`,
		`<li>one &lt;b&gt;</li>`,
		`<li>two continued</li>`,
		`</ul>`,
		`<ol>`,
		`<li>first</li>`,
		`</ol>`,
		`<blockquote><p>a note</p>`,
		`</blockquote>`,
		`<table>`,
		`<thead><tr><th>a</th><th>b</th></tr></thead>`,
		`<tbody>`,
		"<tr><td>1</td><td>`x</td><td>`</td></tr>",
		`</tbody></table>`,
		`<div class="code"><button type="button" class="copy" title="Copy to the clipboard">Copy</button><pre><code class="language-sh">kubectl -n ex expose deploy web --port=80 &lt;&amp;&gt;</code></pre></div>`,
		``,
	}, "\n")
	if got := RenderMarkdown(src); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestWithoutTitle(t *testing.T) {
	for in, want := range map[string]string{
		"# Run pods\n\nText\n": "\nText\n",
		"\n# Run pods\nText":   "Text",
		"Text\n# Later\n":      "Text\n# Later\n",
		"## Sub\nText":         "## Sub\nText",
	} {
		if got := withoutTitle(in); got != want {
			t.Errorf("withoutTitle(%q) = %q, want %q", in, got, want)
		}
	}
}
