// Package exercises holds the guided exercises as data (one folder each: exercise.yaml,
// steps in Markdown, checks.yaml, a reference solution) and loads and validates them,
// from the catalogue embedded in the binary or from an instructor's directory.
package exercises
