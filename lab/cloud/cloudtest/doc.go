// Package cloudtest holds a recording fake of cloud.Routes for unit tests.
package cloudtest
