"""skuplan: demand forecasting and inventory planning on Spark + Delta."""
__version__ = "0.1.0"
