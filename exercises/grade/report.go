package grade

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText prints the report for a person: one line per check, messages and hints for
// those that did not pass, and a summary.
func WriteText(w io.Writer, r *Report) error {
	var pass, fail, skip, errs int
	for _, e := range r.Exercises {
		fmt.Fprintf(w, "%s %s — %s\n", mark(e.Status), e.ID, e.Title)
		for _, s := range e.Steps {
			if len(s.Checks) == 0 {
				continue
			}
			fmt.Fprintf(w, "  %s step %s: %s\n", mark(s.Status), s.ID, s.Title)
			for _, c := range s.Checks {
				fmt.Fprintf(w, "    %s %s\n", mark(c.Status), c.Name)
				switch c.Status {
				case Pass:
					pass++
				case Skip:
					skip++
					fmt.Fprintf(w, "        skipped: %s\n", c.Message)
				default:
					if c.Status == Fail {
						fail++
					} else {
						errs++
					}
					fmt.Fprintf(w, "        saw:  %s\n", c.Message)
					if c.Hint != "" {
						fmt.Fprintf(w, "        hint: %s\n", strings.TrimSpace(c.Hint))
					}
					if c.File != "" {
						fmt.Fprintf(w, "        (%s:%d)\n", c.File, c.Line)
					}
				}
			}
		}
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed, %d errors, %d skipped (%s)\n", pass, fail, errs, skip, r.Duration.Round(time.Millisecond))
	return err
}

func mark(s Status) string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Skip:
		return "SKIP"
	}
	return "ERR "
}

// WriteJSON writes the report as JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// JUnit XML as Jenkins, GitLab and GitHub test reporters read it (the structure of the
// xunit plugin's "JUnit 10" schema, which allows no skipped count on <testsuites>): a
// testsuite per exercise, a testcase per check.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML.
func WriteJUnit(w io.Writer, r *Report) error {
	all := junitSuites{Name: "svclab grade", Time: seconds(r.Duration)}
	for _, e := range r.Exercises {
		s := junitSuite{Name: e.ID, Time: seconds(e.Duration), Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05")}
		for _, st := range e.Steps {
			for _, c := range st.Checks {
				tc := junitCase{Name: st.ID + ": " + c.Name, Classname: "exercises." + e.ID + "." + st.ID, Time: seconds(c.Duration)}
				detail := c.Message
				if c.Hint != "" {
					detail += "\nhint: " + strings.TrimSpace(c.Hint)
				}
				if c.File != "" {
					detail += fmt.Sprintf("\n(%s:%d)", c.File, c.Line)
				}
				switch c.Status {
				case Fail:
					tc.Failure = &junitProblem{Message: c.Message, Type: c.Kind, Text: detail}
					s.Failures++
				case Error:
					tc.Error = &junitProblem{Message: c.Message, Type: c.Kind, Text: detail}
					s.Errors++
				case Skip:
					tc.Skipped = &junitSkipped{Message: c.Message}
					s.Skipped++
				default:
					tc.SystemOut = c.Message
				}
				s.Tests++
				s.Cases = append(s.Cases, tc)
			}
		}
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Suites = append(all.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
