"""Gateway role: GLBP state machines, ARP load balancing and the VMAC data plane."""
