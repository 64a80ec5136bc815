source solution/set-mode
set_mode iptables
