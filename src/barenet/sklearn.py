"""barenet's scikit-learn estimators: ``from barenet.sklearn import MLPClassifier, MLPRegressor``.

They live in ``barenet.app.estimators``; this module is the name scikit-learn users look for.
Needs scikit-learn: ``pip install "barenet[sklearn]"``.
"""
from .app.estimators import EXPECTED_FAILED_CHECKS, MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "EXPECTED_FAILED_CHECKS"]
