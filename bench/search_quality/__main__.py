import sys

from bench.search_quality.evaluate import main

main(sys.argv[1:])
