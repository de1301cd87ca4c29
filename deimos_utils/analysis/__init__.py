"""What the results say: tests, tables, and the numbers to compare them with.

results             the tidy results table: its checks, which way a metric is better
lmm                 Appendix C's linear mixed model test (lmm_lrt)
thresholds          Tables 1 and 2: acquisitions to reach a threshold
diversity           batch diversity (Fig 3d, e)
seed_tests          comparisons over seeds (per-seed AUC, permutation, bootstrap)
tables              tables every experiment's notebook shows: what ran, Tables 1 and 2 beside the
                    paper, the LMM p-values, figure titles
regression_tables   the regression experiments' tables: Appendix E's calibration, Table 1's
                    thresholds, the final metric, timings
mnist_tables        the MNIST experiments' tables: queried images, diversity wins, sample sizes
significance_table  Appendix C across every experiment, ours beside the authors' arrays
budget              what a grid costs: recorded seconds per run, the grid's hours on its workers
authors_comparison  the authors' side of each comparison: their arrays, curves, Tables 1 and 2, and
                    what differs between their settings and ours
claims              a verdict per claim of the paper, on the authors' arrays and on ours
paper               the numbers the paper reports
"""
