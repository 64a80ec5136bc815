package web

import (
	"html"
	"regexp"
	"strconv"
	"strings"
)

// RenderMarkdown turns the Markdown subset exercise steps use into HTML: headings,
// paragraphs, lists, block quotes, pipe tables, fenced code blocks (each with a copy
// button), inline code, bold, italics and links. Everything else is escaped text, so a
// step can never inject markup.
func RenderMarkdown(src string) string {
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); {
		line := lines[i]
		trim := strings.TrimSpace(line)
		switch {
		case trim == "":
			i++
		case strings.HasPrefix(trim, "```"):
			lang := strings.TrimSpace(strings.TrimPrefix(trim, "```"))
			var code []string
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
				code = append(code, lines[i])
			}
			i++ // the closing fence
			writeCode(&b, lang, strings.Join(code, "\n"))
		case headingRE.MatchString(trim):
			m := headingRE.FindStringSubmatch(trim)
			n := string(rune('0' + len(m[1])))
			b.WriteString("<h" + n + ">" + inline(m[2]) + "</h" + n + ">\n")
			i++
		case listRE.MatchString(line):
			i = writeList(&b, lines, i)
		case strings.HasPrefix(trim, ">"):
			var quote []string
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), ">"); i++ {
				quote = append(quote, strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(lines[i]), ">"), " "))
			}
			b.WriteString("<blockquote>" + RenderMarkdown(strings.Join(quote, "\n")) + "</blockquote>\n")
		case strings.HasPrefix(trim, "|") && i+1 < len(lines) && tableSepRE.MatchString(strings.TrimSpace(lines[i+1])):
			i = writeTable(&b, lines, i)
		default:
			var para []string
			for ; i < len(lines) && !blockStart(lines[i]); i++ {
				para = append(para, strings.TrimSpace(lines[i]))
			}
			b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>\n")
		}
	}
	return b.String()
}

var (
	headingRE  = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*$`)
	listRE     = regexp.MustCompile(`^\s{0,3}([-*+]|\d+[.)])\s+`)
	tableSepRE = regexp.MustCompile(`^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$`)
	codeRE     = regexp.MustCompile("`([^`]+)`")
	linkRE     = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
	boldRE     = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	emRE       = regexp.MustCompile(`(^|[^\w*])[*_]([^*_]+)[*_]($|[^\w*])`)
)

// blockStart reports whether a line ends a paragraph.
func blockStart(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || strings.HasPrefix(t, "```") || headingRE.MatchString(t) || listRE.MatchString(line) || strings.HasPrefix(t, ">")
}

func writeCode(b *strings.Builder, lang, code string) {
	class := ""
	if lang != "" {
		class = ` class="language-` + html.EscapeString(strings.Fields(lang)[0]) + `"`
	}
	b.WriteString(`<div class="code"><button type="button" class="copy" title="Copy to the clipboard">Copy</button>`)
	b.WriteString("<pre><code" + class + ">" + html.EscapeString(code) + "</code></pre></div>\n")
}

// writeList renders consecutive list items (one level; indented lines continue an item).
func writeList(b *strings.Builder, lines []string, i int) int {
	ordered := strings.ContainsAny(listRE.FindStringSubmatch(lines[i])[1], "0123456789")
	tag := "ul"
	if ordered {
		tag = "ol"
	}
	b.WriteString("<" + tag + ">\n")
	for i < len(lines) && listRE.MatchString(lines[i]) {
		item := []string{strings.TrimSpace(lines[i][len(listRE.FindString(lines[i])):])}
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "" && !listRE.MatchString(lines[i]) &&
			(strings.HasPrefix(lines[i], " ") || strings.HasPrefix(lines[i], "\t")) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
			item = append(item, strings.TrimSpace(lines[i]))
		}
		b.WriteString("<li>" + inline(strings.Join(item, " ")) + "</li>\n")
	}
	b.WriteString("</" + tag + ">\n")
	return i
}

func writeTable(b *strings.Builder, lines []string, i int) int {
	cells := func(l string) []string {
		l = strings.TrimSpace(l)
		l = strings.TrimSuffix(strings.TrimPrefix(l, "|"), "|")
		parts := strings.Split(l, "|")
		for j := range parts {
			parts[j] = inline(strings.TrimSpace(parts[j]))
		}
		return parts
	}
	b.WriteString("<table>\n<thead><tr><th>" + strings.Join(cells(lines[i]), "</th><th>") + "</th></tr></thead>\n<tbody>\n")
	for i += 2; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
		b.WriteString("<tr><td>" + strings.Join(cells(lines[i]), "</td><td>") + "</td></tr>\n")
	}
	b.WriteString("</tbody></table>\n")
	return i
}

// inline renders code spans, links, bold and italics in escaped text. Code spans are cut
// out first so nothing inside them is interpreted.
func inline(s string) string {
	var codes []string
	s = codeRE.ReplaceAllStringFunc(s, func(m string) string {
		codes = append(codes, "<code>"+html.EscapeString(m[1:len(m)-1])+"</code>")
		return "\x00" + strconv.Itoa(len(codes)-1) + "\x00"
	})
	s = html.EscapeString(s)
	s = linkRE.ReplaceAllStringFunc(s, func(m string) string {
		p := linkRE.FindStringSubmatch(m)
		href := html.UnescapeString(p[2])
		if !safeHref(href) {
			return p[1]
		}
		return `<a href="` + html.EscapeString(href) + `" target="_blank" rel="noopener">` + p[1] + `</a>`
	})
	s = boldRE.ReplaceAllString(s, "<strong>$1</strong>")
	s = emRE.ReplaceAllString(s, "$1<em>$2</em>$3")
	for i, c := range codes {
		s = strings.Replace(s, "\x00"+strconv.Itoa(i)+"\x00", c, 1)
	}
	return s
}

func safeHref(h string) bool {
	return strings.HasPrefix(h, "https://") || strings.HasPrefix(h, "http://") || strings.HasPrefix(h, "#") ||
		strings.HasPrefix(h, "/") && !strings.HasPrefix(h, "//")
}
