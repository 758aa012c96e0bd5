"""How a net learns: Caffe's solvers."""
