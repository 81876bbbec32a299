"""netspec's command line (Typer + Rich), installed as the package `netspec_cli`.

One module per command, each defining `register(app)`; `main.py` builds the app. Only this
package imports Typer and Rich: the `netspec` library never prints, exits or imports them.
"""
