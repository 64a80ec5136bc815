// Package stub is a stub resolver like libc's: nameservers, search list and ndots from a
// resolv.conf, used by the pod tools (svclab dig, svclab curl).
package stub
