"""Analyses: estimate (excess-death methods); validate, calibrate, compare and decompose come later."""
