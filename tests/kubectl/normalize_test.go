package kubectl_test

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Values that change from run to run are replaced by placeholders before comparing:
//
//	<ip>        a cluster IP allocated at random (static requests in these tests use 10.96.0.0/24,
//	            the band random allocation avoids)
//	<nodeport>  a node port allocated at random (30086-32767; static requests use 30000-30085)
//	<hash>      a pod-template-hash; <rand> a generated pod-name suffix
//	<age>       an AGE (or LAST SEEN) cell of a table
//	<time>      a timestamp in describe output
//	<uid>       a UID
//	<podip>     a pod IP (10.244.0.0/16, handed out by fakeKubelet)
//	<sha256>    a certificate fingerprint
var (
	reIPv4      = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
	reNodePort  = regexp.MustCompile(`(^|[\s:])(3\d{4})\b`) // not in "30000-32767"
	rePodName   = regexp.MustCompile(`\b([a-z][a-z0-9-]*?)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b`)
	reRSName    = regexp.MustCompile(`\b([a-z][a-z0-9-]*?)-[bcdfghjklmnpqrstvwxz2456789]{6,10}\b`)
	rePodHash   = regexp.MustCompile(`\bpod-template-hash=[bcdfghjklmnpqrstvwxz2456789]{6,10}\b`)
	reUID       = regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	reTimestamp = regexp.MustCompile(`\b[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}\b`)
	reSHA256    = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	reAge       = regexp.MustCompile(`^(?:\d+[smhdy])+$`)

	podIPs     = netip.MustParsePrefix("10.244.0.0/16")
	randomIPs  = netip.MustParsePrefix("10.96.0.0/12")
	staticIPs  = netip.MustParsePrefix("10.96.0.0/24")
	spaceRunRe = regexp.MustCompile(`\s{2,}`)
)

// norm replaces random cluster IPs, node ports, pod IPs, pod-name suffixes, UIDs, fingerprints
// and timestamps.
func norm(s string) string {
	s = reIPv4.ReplaceAllStringFunc(s, func(ip string) string {
		a, err := netip.ParseAddr(ip)
		switch {
		case err != nil:
		case randomIPs.Contains(a) && !staticIPs.Contains(a):
			return "<ip>"
		case podIPs.Contains(a):
			return "<podip>"
		}
		return ip
	})
	s = reNodePort.ReplaceAllStringFunc(s, func(m string) string {
		if n, _ := strconv.Atoi(m[len(m)-5:]); n >= 30086 && n <= 32767 {
			return m[:len(m)-5] + "<nodeport>"
		}
		return m
	})
	s = rePodName.ReplaceAllString(s, "$1-<hash>-<rand>")
	s = reRSName.ReplaceAllString(s, "$1-<hash>")
	s = rePodHash.ReplaceAllString(s, "pod-template-hash=<hash>")
	s = reUID.ReplaceAllString(s, "<uid>")
	s = reSHA256.ReplaceAllString(s, "<sha256>")
	return reTimestamp.ReplaceAllString(s, "<time>")
}

// table turns kubectl's aligned table output into one line per row with the cells separated
// by " | ", cut at the columns of the header (so empty cells stay visible), with AGE cells
// as <age> and norm applied. Tables separated by blank lines (get a,b) stay separate.
func table(out string) string {
	var b strings.Builder
	for i, block := range strings.Split(strings.TrimRight(out, "\n"), "\n\n") {
		if i > 0 {
			b.WriteString("\n")
		}
		lines := strings.Split(block, "\n")
		starts, names := columns(lines[0])
		for _, line := range lines {
			cells := make([]string, len(starts))
			for c, start := range starts {
				end := len(line)
				if c+1 < len(starts) && starts[c+1] < end {
					end = starts[c+1]
				}
				if start < end {
					cells[c] = strings.TrimSpace(line[start:end])
				}
				if (names[c] == "AGE" || names[c] == "LAST SEEN") && reAge.MatchString(cells[c]) {
					cells[c] = "<age>"
				}
			}
			b.WriteString(strings.Join(cells, " | "))
			b.WriteString("\n")
		}
	}
	return norm(b.String())
}

// columns returns where each header cell starts and its name; header cells are separated by
// two or more spaces (a single space belongs to names like "NOMINATED NODE").
func columns(header string) (starts []int, names []string) {
	pos := 0
	for _, sep := range spaceRunRe.FindAllStringIndex(header, -1) {
		if sep[0] > pos {
			starts, names = append(starts, pos), append(names, header[pos:sep[0]])
		}
		pos = sep[1]
	}
	if pos < len(header) {
		starts, names = append(starts, pos), append(names, header[pos:])
	}
	return starts, names
}

// cells splits free-flowing table lines (get -w prints each row as it comes, so rows are not
// aligned with the header) on runs of spaces, with AGE-like cells as <age>.
func cells(out string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fields := spaceRunRe.Split(strings.TrimSpace(line), -1)
		for i, f := range fields {
			if reAge.MatchString(f) {
				fields[i] = "<age>"
			}
		}
		b.WriteString(strings.Join(fields, " | "))
		b.WriteString("\n")
	}
	return norm(b.String())
}

// lines drops the tab indentation and trailing blanks of every line of want and leading and
// trailing blank lines, so expected output can be indented in the test source. Leading
// spaces stay: a row that starts with an empty cell starts with " | ".
func lines(want string) string {
	ls := strings.Split(strings.Trim(want, "\n\t "), "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(strings.TrimLeft(l, "\t"), " \t")
	}
	return strings.Join(ls, "\n") + "\n"
}

// wantTable compares kubectl table output with want (" | "-separated cells, see table).
func wantTable(t *testing.T, out, want string) {
	t.Helper()
	if got := table(out); got != lines(want) {
		t.Errorf("table mismatch\n--- got (normalised):\n%s--- want:\n%s--- raw output:\n%s", got, lines(want), out)
	}
}

// wantText compares out, normalised, with want exactly.
func wantText(t *testing.T, out, want string) {
	t.Helper()
	if got := norm(out); got != want {
		t.Errorf("output mismatch\n--- got (normalised):\n%s--- want:\n%s--- raw output:\n%s", got, want, out)
	}
}

func TestTableNormalisation(t *testing.T) {
	out := "NAME   TYPE       CLUSTER-IP     EXTERNAL-IP   PORT(S)        AGE\n" +
		"web    NodePort   10.97.4.124    <none>        80:32131/TCP   3m2s\n" +
		"fix    NodePort   10.96.0.50     <none>        80:30080/TCP   5d\n" +
		"\n" +
		"NAME                       READY   STATUS    RESTARTS   AGE\n" +
		"web-7d4b9c5f8d-x2kzq       0/1               0          1s\n"
	want := lines(`
		NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE
		web | NodePort | <ip> | <none> | 80:<nodeport>/TCP | <age>
		fix | NodePort | 10.96.0.50 | <none> | 80:30080/TCP | <age>

		NAME | READY | STATUS | RESTARTS | AGE
		web-<hash>-<rand> | 0/1 |  | 0 | <age>
	`)
	if got := table(out); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
