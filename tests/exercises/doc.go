// Package exercises proves every built-in exercise can be passed: on one fresh lab, each
// step's checks fail before its reference solution and pass after it.
package exercises
