"""Registration accuracy of align.global beside ECC: the same as ``burst bench registration``
(see :mod:`burst_bench.registration_bench` for what it measures and how).

    python benchmarks/registration_accuracy.py --sizes 48 64 --noise light moderate --bursts 2
"""

from burst_bench.registration_bench import main

if __name__ == "__main__":
    main()
