"""Non-stop routing: BGP speaker and TCP_REPAIR socket migration."""
