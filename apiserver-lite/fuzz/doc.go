// Package fuzz holds Go fuzz targets for the API server's decoding and validation paths, and a
// test that sends malformed requests to a running server.
package fuzz
