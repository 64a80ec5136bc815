// Package ipvstest has recording fakes of the ipvs mode's kernel touchpoints: the moby/ipvs
// handle, the netlink subset and ipset.
package ipvstest
