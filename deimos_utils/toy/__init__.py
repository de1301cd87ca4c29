"""The small experiments that explain the method: the 1D regression and Appendix A.

synthetic_1d        the 1D synthetic regression of section 5.1 and Fig 1
greedy_optimality   Appendix A: greedy against optimal batches of the expected improvement
teaching            the interactive DEIMOS view of the 1D experiment (notebook 08)
"""
