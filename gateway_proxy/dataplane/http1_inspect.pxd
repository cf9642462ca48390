# http1_inspect.pyx is compiled because this file exists (setup.py builds each X.pxd's X.pyx). It
# declares nothing for others to cimport: the module is Python-facing test views of http1.
