"""The load generator, the reference server and the scenarios behind `make bench`.

Nothing here is imported by the product or collected by pytest; see bench/README.md.
"""
