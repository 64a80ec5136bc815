package printers

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// now is the clock the AGE-like columns measure against; tests replace it.
var now = time.Now

// Column descriptions shared by most resources, as upstream takes them from ObjectMeta's swagger docs.
var (
	nameDescription = metav1.ObjectMeta{}.SwaggerDoc()["name"]
	ageDescription  = metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]
)

// nameColumn and ageColumn are the NAME and AGE columns nearly every printer starts and ends with.
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: nameDescription}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: ageDescription}
}

// translateTimestampSince returns the elapsed time since timestamp in human-readable
// approximation, or "<unknown>" for a zero time (upstream's translateTimestampSince).
func translateTimestampSince(timestamp metav1.Time) string {
	if timestamp.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now().Sub(timestamp.Time))
}

// translateMicroTimestampSince is translateTimestampSince for metav1.MicroTime.
func translateMicroTimestampSince(timestamp metav1.MicroTime) string {
	if timestamp.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now().Sub(timestamp.Time))
}

// listWithMoreString joins up to max items and says how many more there were; an empty list
// prints as "<unset>".
func listWithMoreString(list []string, more bool, count, max int) string {
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	if ret == "" {
		ret = "<unset>"
	}
	return ret
}

// firstNonEmpty returns the first non-empty string of ss, or "".
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if len(s) > 0 {
			return s
		}
	}
	return ""
}
