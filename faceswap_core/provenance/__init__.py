"""Disclosure built in (issue 18): what obs-faceswap makes says that it is a face swap.

mark.py (the invisible mark, reed_solomon.py its error-correcting code), stamp.py (the
label and the mark on every finished frame), credentials.py (C2PA content credentials on
files), verify.py (what a file says about itself, for `faceswap verify`)."""
