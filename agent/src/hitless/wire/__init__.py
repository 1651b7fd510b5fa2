"""Wire formats: the canonical TLV codec and the GLBP/BGP packet formats."""
