package exercises

import "embed"

// embedded is the built-in catalogue: every folder here with an exercise.yaml.
//
//go:embed all:*
var embedded embed.FS
