"""Figures, each saved as a file under one output directory.

common            Output (where a notebook writes figures and numbers), the theme, learning curves
mnist             the MNIST experiments' figures (Fig 3, Fig B.1)
regression        the regression experiments' figures (5' splicing, UTKFace; Fig 2)
authors_overlay   the authors' published curves drawn beside ours
significance      Appendix C's p-values over every experiment, as a heatmap
"""
