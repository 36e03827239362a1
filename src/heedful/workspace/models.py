"""No models: see the app's modules."""
