# marketfeed: a static binary on a minimal base image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/marketfeed ./cmd/marketfeed

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/marketfeed /usr/local/bin/marketfeed
EXPOSE 8080 9090
USER nonroot
ENTRYPOINT ["/usr/local/bin/marketfeed"]
CMD ["serve"]
