import unittest

from shop.money import CurrencyMismatch, Money


class MoneyTest(unittest.TestCase):
    def test_add_and_subtract(self) -> None:
        self.assertEqual(Money(150) + Money(250), Money(400))
        self.assertEqual(Money(150) - Money(250), Money(-100))

    def test_multiply_by_quantity(self) -> None:
        self.assertEqual(Money(199) * 3, Money(597))
        self.assertEqual(3 * Money(199), Money(597))

    def test_zero_and_negation(self) -> None:
        self.assertTrue(Money.zero("EUR").is_zero())
        self.assertEqual(-Money(5, "EUR"), Money(-5, "EUR"))

    def test_comparison(self) -> None:
        self.assertLess(Money(1), Money(2))
        self.assertLessEqual(Money(2), Money(2))

    def test_currency_mismatch(self) -> None:
        with self.assertRaises(CurrencyMismatch):
            Money(1, "USD") + Money(1, "EUR")

    def test_rejects_float_and_bad_currency(self) -> None:
        with self.assertRaises(TypeError):
            Money(1.5)  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            Money(1, "usd")
        with self.assertRaises(ValueError):
            Money(1, "DOLLAR")


if __name__ == "__main__":
    unittest.main()
