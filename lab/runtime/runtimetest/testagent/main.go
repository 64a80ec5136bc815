// Command testagent stands in for the svclab binary in runtime conformance tests: the
// built-in image is built from it, so "/svclab CMD" runs one of the small commands below.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testagent pod-agent|ignore-term|exit N|echo ARGS|env|cat|netns")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "pod-agent":
		podAgent()
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		for {
			time.Sleep(time.Hour)
		}
	case "exit":
		code, _ := strconv.Atoi(args[0])
		fmt.Println("exiting with", code)
		fmt.Fprintln(os.Stderr, "to stderr")
		os.Exit(code)
	case "echo":
		fmt.Println(strings.Join(args, " "))
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	case "cat":
		io.Copy(os.Stdout, os.Stdin)
	case "netns":
		// The inode of the network namespace, compared with the test's own namespace.
		var st syscall.Stat_t
		if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(st.Ino)
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

// podAgent prints its version and waits for SIGTERM; then it waits TERM_DELAY and exits
// with TERM_EXIT (0 by default).
func podAgent() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Printf("agent %s started\n", os.Getenv("SVCLAB_IMAGE_VERSION"))
	<-term
	fmt.Println("SIGTERM received")
	if d, err := time.ParseDuration(os.Getenv("TERM_DELAY")); err == nil {
		time.Sleep(d)
	}
	code, _ := strconv.Atoi(os.Getenv("TERM_EXIT"))
	fmt.Println("bye")
	os.Exit(code)
}
