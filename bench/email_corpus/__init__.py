"""The email benchmark's corpus generator and the steps it runs inside Django
(bench/email_bench.py starts them as `python -m bench.email_corpus.child`)."""
