"""Why a study ended where it did: importance, budget curves, convergence by strategy; the HTML report."""
