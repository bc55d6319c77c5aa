"""The bottom layer: names, keys, the paper's facts and atomic writes that every other layer shares.

Nothing here imports another part of ran_core, nor Keras, Ray or Optuna.
"""
