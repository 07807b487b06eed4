"""gansearch: find GAN hyperparameters that converge.

Importing the package is cheap: torch, Ray, Optuna and MLflow load only in the modules that need them.
"""

__version__ = "0.1.0"
