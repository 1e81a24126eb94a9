"""``barenet.sklearn``: ``MLPClassifier`` and ``MLPRegressor`` as scikit-learn estimators.

The code lives in ``barenet.integrations.sklearn``; this name is that module itself, so
``from barenet.sklearn import MLPClassifier`` and ``bn.sklearn`` give it. Needs scikit-learn:
``pip install "barenet[sklearn]"``.
"""
import sys

from .integrations import sklearn

sys.modules[__name__] = sklearn
